"""The merchant-request feature: intake, the request log, the transmitter, the orders report."""
