"""AWS ALB: two target groups behind listener weights (elb: the API, world: what exists, plan: the actions)."""
