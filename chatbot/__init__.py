"""facex-chat's chatbot: question answering over a face-verification explanation (explanation.json).

```python
from chatbot import Chatbot, Conversation
bot = Chatbot.from_file("out/explanation.json")          # sentence model from models.registry ("sentence")
chat = Conversation(bot)
answer = chat.ask("What is the decision?")               # -> Answer(text, score, evidence, method, intent, links, ...)
chat.ask("why?")                                         # follow-ups resolve against earlier turns
chat.save("log.json"); chat.save("log.md")               # export; Conversation.load("log.json") round-trips
```
"""

from chatbot.answering import Answer, ArtifactLink, Chatbot, format_answer
from chatbot.context import Context, Sentence, build_context, load_explanation, validate_explanation
from chatbot.conversation import Conversation, Turn
from chatbot.errors import ChatbotError, ConversationError, ExplanationError

__all__ = [
    "Answer", "ArtifactLink", "Chatbot", "ChatbotError", "Context", "Conversation", "ConversationError",
    "ExplanationError", "Sentence", "Turn", "build_context", "format_answer", "load_explanation",
    "validate_explanation",
]
