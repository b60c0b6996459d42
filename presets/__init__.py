"""Built-in presets (TOML). Shipped inside the wheel as the package ``polyface.presets``."""
