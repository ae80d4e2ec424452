"""Entry point `pulumi up` runs: the orders service on the platform's cluster."""

import orders

orders.build()
