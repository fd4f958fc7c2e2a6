"""Pure domain: entities, rules, errors, ports and services. Standard library only."""
