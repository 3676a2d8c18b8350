"""The `leadloop` console script: Django's manage.py under the project's settings."""

import os
import sys


def main() -> None:
    """Run a Django management command with Leadloop's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
