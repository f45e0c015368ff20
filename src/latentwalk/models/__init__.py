"""Generator architectures: plain nn.Modules, no file I/O and no device choice."""
