"""nginx with a Lua balancer reading a shared dict (conf renders it; driver never reloads)."""
