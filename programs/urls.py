from django.urls import path
from rest_framework.routers import SimpleRouter

from programs import api, billing_api, people_api

router = SimpleRouter()
router.register("levels-of-care", api.LevelOfCareViewSet, basename="level-of-care")
router.register("payer-rules", api.PayerRuleViewSet, basename="payer-rule")
router.register("programs", api.ProgramViewSet, basename="program")
router.register("enrollments", api.EnrollmentViewSet, basename="enrollment")

urlpatterns = [
    path("participants/<int:pk>/hours/", api.ParticipantHoursView.as_view(), name="participant-hours"),
    path("programs/<int:pk>/billing/", billing_api.ProgramBillingView.as_view(), name="program-billing"),
    path("programs/<int:pk>/participants/", people_api.ProgramParticipantsView.as_view(), name="program-participants"),
    path(
        "participants/<int:pk>/clinicians/",
        people_api.ParticipantCliniciansView.as_view(),
        name="participant-clinicians",
    ),
    *router.urls,
]
