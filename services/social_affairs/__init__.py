"""Social affairs (社会事务): funeral reform (memorial halls, their niches and occupants, the
migration of the Yonghong and Xilin halls into Beigang cemetery, inspections against the
management standard), grave mounds found and resolved, marriage and divorce registration.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="social affairs (社会事务)", application="SocialAffairs",
                           http_port=8007, relay_port=9107)
