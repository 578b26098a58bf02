"""From stored chats to a fine-tuning dataset, in small pure steps:

sessions → turns → filters → privacy → samples → split → formats, with every drop counted by reason.
"""
