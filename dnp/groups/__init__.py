"""Test groups: activities, occasions, groups and their members, built by the schools from the register."""
