"""Animations: the schema, the timeline (frame -> latent), frame rendering, and the library on disk."""
