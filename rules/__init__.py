"""Convention packs shipped with sentinel-lint (TOML files in this directory)."""
