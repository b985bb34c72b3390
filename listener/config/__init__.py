"""Settings: settings.toml read once into typed, frozen dataclasses.

``settings`` holds the dataclasses, ``schema`` declares every key once (type, default, check,
help), ``checks`` the value checks, ``reader`` reads a file through the schema, ``sourcekeys``
reads a ``[[sources]]`` entry through the source-type registry, ``edit`` appends a source to a
settings file and ``docs`` writes the README's settings tables. Every problem is one
``ConfigError`` line naming the file and the key.
"""

from listener.config import checks  # noqa: F401
from listener.config.checks import parse_clock, parse_interval, parse_weekly  # noqa: F401
from listener.config.reader import load_settings, parse_settings, settings_path  # noqa: F401
from listener.config.schema import DEFAULT_USER_AGENT, SENSITIVITIES, SENTIMENT_MODELS  # noqa: F401
from listener.config.settings import (  # noqa: F401
    AlertRule, AlertSettings, Channel, ClassifySettings, CollectSettings, ConfigError, DEFAULT_FILE, DigestSettings, ENV_VAR, EmergingSettings, Product, ScheduleSettings, SentimentSettings, ServeSettings, Settings, Source, Topic)
