"""The command-line front end: parses arguments, prints, calls the packages.

The one place allowed to import features, models, training and serving together; no
package imports it. `leadscore` is `cli.main:app`.
"""
