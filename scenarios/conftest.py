"""Scenario fixtures (the report's 10-openstack-controller) arrive with the
OpenStack phases; see issue "Scenarios"."""
