"""The shells that drive the library: the command line, the daemon and its jobs, the web app, the demo."""
