"""Render farm: an animation's frames split into shards rendered by Ray actors, then joined in order.

Only this package imports Ray, and only inside functions, so nothing changes (and Ray is not
imported) unless a render asks for a cluster. Modules: shards (ranges and the resumable shard
folder, no Ray), actor (the Ray actor that holds a model and renders shards), join (shards into
the final file), job (the driver: connection, actors, retries, progress, cancel).
"""
