"""Where wamulti reaches past another library's public interface: one module per library, each
pinned by a contract test (tests/test_seams_<library>.py) and paid for by a figure (bench/README.md)."""
