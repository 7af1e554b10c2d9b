"""Read models of the social affairs events (placeholder, filled in below)."""
SOURCE = "social_affairs"
TABLES: dict = {}
VIEWS: dict = {}
HANDLERS: dict = {}
