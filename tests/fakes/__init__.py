"""Local fakes of the outside systems DNP talks to, for tests."""
