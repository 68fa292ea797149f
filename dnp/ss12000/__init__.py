"""The SS 12000 API Skolverket reads: its token check, query contract, page reader, call log and feedback."""
