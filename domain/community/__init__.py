"""Community intake (issue 16): the forum itself as a source.

A Discourse forum's signed webhooks bring flagged posts (a flag on the author's open case, or a
case opened), new members (the 24-hour welcome clock) and the welcomes given by the forum's hosts,
moderators and volunteers, and topics and posts (the engagement log). Each delivery is a stream
of its own, so a retried delivery is recognised from the log; a member is a stream per service
and forum account; an intake's configuration (its webhook secret, sealed, and the table that maps
forum accounts to Vigil users) is a stream per service.
"""
