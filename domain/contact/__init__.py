"""Helpline contacts: one aggregate per contact (a call, a chat, a letter...), its link to a
case, its quality reviews and the handler's answer to them, and its follow-ups."""
