from django.urls import URLPattern, path

from streams.views import stream

urlpatterns: list[URLPattern] = [
    path("<slug:network>/<slug:channel>/stream/", stream, name="irc-stream"),
]
