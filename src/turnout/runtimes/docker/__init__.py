"""The Docker runtime: each color's instances are containers on one or more Docker engines (docs/docker.md).

options     `[runtime.options]` and each engine of `hosts` (no docker import: check-config stays light)
spec        what one container is made of: name, labels, env (secrets included), ports, mounts (pure)
engine      one Docker engine through the SDK, its calls in threads, its errors named after the host
images      the pull policy and the pruning of old images of the app
logs        `turnout logs` for containers: tails, then followed streams merged
runtime     DockerRuntime: the Runtime protocol over all the engines
"""
