"""Disaster relief (救灾应急): incidents and their rapid reports, relief rosters and cards, and the
relief reserve of each town and street."""
