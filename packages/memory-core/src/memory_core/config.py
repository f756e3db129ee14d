"""Configuration: ``MemoryConfig`` (environment, ``.env`` and the config file), its
``Limits``, and where the config file is looked for (``find_config_file``)."""

from memory_core._config import CONFIG_FILE_NAME, MemoryConfig, find_config_file, user_config_dir
from memory_core._exports import claim
from memory_core._limits import Limits

__all__ = ["CONFIG_FILE_NAME", "Limits", "MemoryConfig", "find_config_file", "user_config_dir"]

claim(__name__, __all__, globals())
