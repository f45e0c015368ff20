"""Render farm: an animation's frames split into shards rendered by Ray actors, then joined in order.

Only this package imports Ray, and only inside functions, so nothing changes (and Ray is not
imported) unless a render asks for a cluster. Modules: connection (importing Ray, connecting),
shards (ranges and the resumable shard folder, no Ray), actor (the Ray actor that holds a model
and renders shards), join (shards into the final file), job (the driver: actors, retries,
progress, cancel), samples (direction fits: samples rendered and scored by the actors).
"""
