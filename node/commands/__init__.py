"""The ``alertnode`` commands: one declarative table that drives the CLI and the socket.

Rule: a command is defined once, as a row (``table.Command``) in one of the area
modules here (``alerts``, ``peers``, ``pairing``, ``ops``, ``lifecycle``); the argparse
CLI (``cli``), the control-socket dispatch (``control``), argument validation
(``table.parse_args``) and the fuzz tests are all generated from those rows. This
package may import protocol/, federation/ and the rest of node/; nothing below
node/app.py imports it except the entry points (node/cli.py, node/app.py's control app
and the client in ``client``). ``control`` never imports ``lifecycle`` (which starts
nodes), so starting a node and serving its socket make no import cycle.
"""
