"""Settings and the camera inventory schema; imports nothing else of ours."""

from config.inventory import Inventory, load_inventory
from config.settings import Settings, load_settings

__all__ = ["Inventory", "Settings", "load_inventory", "load_settings"]
