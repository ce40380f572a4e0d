"""buildbot_rest_only: Buildbot's 'base' www plugin without the web UI.

Debian 12 packages Buildbot without its web UI (buildbot-www is only on
PyPI: Debian bug #883529), and without a 'base' www plugin the master
serves nothing, not even the REST API (/api/v2) nor the force scheduler's
JSON-RPC. This plugin fills that slot with one page saying so; the API is
Buildbot's own. Put this directory on the master's PYTHONPATH; where
buildbot-www is installed, leave it off (both are 'base').
"""
from buildbot.www.plugin import Application

ep = Application(__name__, "REST API only (no web UI)")
