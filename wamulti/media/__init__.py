"""The media store: files (content-addressed blobs, local or S3), their records in the store, signed
links, intake (uploads, URL fetches, downloads) and retention.

`library.py` is the facade the routes, sending and hearing call; the rest are its parts, one concern
each: `blob_stores` / `s3_blobs` keep bytes by sha256, `intake` spools a stream to disk (hash, size
cap), `sniffing` names the type from the bytes, `file_names` sanitises names, `links` signs URLs,
`url_fetch` fetches under wamulti/destinations' policy, `media_upkeep` prunes on a timer.
"""
