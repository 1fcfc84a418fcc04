import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "irclogger.settings")
application = get_wsgi_application()

# The deploy checks, where every gunicorn worker loads the app: unsafe
# settings stop the service here (gunicorn exits when a worker cannot boot).
from irclogger.checks import refuse_unsafe_settings  # noqa: E402  (needs Django set up)

refuse_unsafe_settings()
