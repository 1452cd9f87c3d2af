"""Checks read the hosts on their own (testinfra, API clients): they never
trust what the runner believes it did. Fixtures come from pytest_deploy:
`host` (testinfra, one per host of the test's role marker), `remote`,
`inventory`, and `phase_pNN` (the phase deployed, with all before it)."""
