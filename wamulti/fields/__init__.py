"""Request fields checked the same way everywhere (the API, the settings, the console, the send queue):
client ids and message text (client_fields), phone numbers and recipients (phone). Pure functions
that raise InvalidField with one sentence naming the field."""
