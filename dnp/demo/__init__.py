"""Demo data: a fictitious municipality for development, screenshots and benchmarks."""
