"""Everything that touches the device: requests, the inference worker, image conversion."""
