"""Messages on the wire: MIME bytes, DKIM signatures, and the transports that hand them over.

Below every package that sends (campaigns, transactional mail, double opt-in, test sends),
so none of them depends on another to put bytes on the wire.

Entry points:
- `mime`: make_message_id, format_address, header_line
- `dkim`: signer_for
- `transports`: open_transport, transport_url_for, TransportPool, outcome_for
"""
