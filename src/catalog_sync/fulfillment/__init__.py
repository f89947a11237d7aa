"""The fulfillment feature: the event poller and the handler of the distributed model."""
