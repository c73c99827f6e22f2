"""How traffic is pointed at a color: builtin proxy, HAProxy, Envoy, nginx."""
