"""`fabscore serve`: the HTTP API and web page (app.py) over the same Detector as the command line."""
