"""Settings of the form_capture benchmark only: Leadloop's own, with the floor's URLs added."""

from leadloop.settings import *  # noqa: F403

ROOT_URLCONF = "form_capture_urls"
