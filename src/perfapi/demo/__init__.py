"""``perfapi demo``: fill an empty org with a realistic year of strategy and KPIs."""

from perfapi.demo.loader import DemoSummary, OrgNotEmptyError, load_demo

__all__ = ["DemoSummary", "OrgNotEmptyError", "load_demo"]
