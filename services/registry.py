"""Composition root of the platform: the registered domains, one entry each (see shared/domains.py).

Adding a domain is its folder under services/, one line here and its targets in data/targets/.
"""
PACKAGES = (
    "services.social_assistance",
    "services.disaster_relief",
    "services.welfare",
    "services.social_affairs",
    "services.military_support",
    "services.conduct_supervision",
    "services.community",
)
