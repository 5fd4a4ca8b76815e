"""Notices posted to group chats (WeCom, DingTalk, Feishu robots, JSON webhooks) and SMS."""
