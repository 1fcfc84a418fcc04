from django.urls import include, path

from bench.peers.naive.views import LineStream

urlpatterns = [
    path("<slug:network>/<slug:channel>/stream/", LineStream.as_view()),
    path("", include("irclogger.urls")),
]
