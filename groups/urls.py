from rest_framework.routers import SimpleRouter

from groups import api

router = SimpleRouter()
router.register("groups", api.TherapyGroupViewSet, basename="group")

urlpatterns = router.urls
