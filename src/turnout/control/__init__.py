"""The control API: one set of typed requests and results shared by the CLI and the agent.

paths   where the agent's socket and pid file live (the state folder, or a private per-user one)
local   the composition root: builds the drivers the config names, the status view
server  the agent: hosts the stack, resumes after a crash, serves the API on a unix socket
client  the CLI's side: imports nothing of the engine, so every command starts fast
"""
