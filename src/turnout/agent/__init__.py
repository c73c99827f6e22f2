"""The long-running host of the embedded stack (proxy + runtime) and the local API the CLI uses."""
