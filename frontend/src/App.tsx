import { createBrowserRouter, RouterProvider, type RouteObject } from 'react-router'
import { AuthProvider } from './auth/AuthContext'
import { Layout } from './components/Layout'
import { RequireAuth } from './components/RequireAuth'
import { Activity } from './pages/Activity'
import { AgentDetail } from './pages/AgentDetail'
import { LogIn, SignUp } from './pages/AuthForms'
import { Clients } from './pages/Clients'
import { Resources } from './pages/Resources'
import { Consent } from './pages/Consent'
import { Dashboard } from './pages/Dashboard'
import { Docs } from './pages/Docs'
import { Home } from './pages/Home'
import { ForgotPassword, ResetPassword } from './pages/PasswordReset'
import { ConfirmEmailChange, Settings } from './pages/Settings'
import { NotFound, ShadowClaim } from './pages/ShadowClaim'
import { BillingCancelled, BillingSuccess, Subscription } from './pages/Subscription'
import { VerifyEmail } from './pages/VerifyEmail'

const signedIn = (element: React.ReactNode) => <RequireAuth>{element}</RequireAuth>

export const routes: RouteObject[] = [{
  element: <Layout />,
  children: [
    { path: '/', element: <Home /> },
    { path: '/docs', element: <Docs /> },
    { path: '/signup', element: <SignUp /> },
    { path: '/login', element: <LogIn /> },
    { path: '/forgot-password', element: <ForgotPassword /> },
    { path: '/reset-password', element: <ResetPassword /> },
    { path: '/verify-email', element: <VerifyEmail /> },
    { path: '/dashboard', element: signedIn(<Dashboard />) },
    { path: '/agents/:agentId', element: signedIn(<AgentDetail />) },
    { path: '/clients', element: signedIn(<Clients />) },
    { path: '/resources', element: signedIn(<Resources />) },
    { path: '/subscription', element: signedIn(<Subscription />) },
    { path: '/billing/success', element: signedIn(<BillingSuccess />) },
    { path: '/billing/cancelled', element: signedIn(<BillingCancelled />) },
    { path: '/activity', element: signedIn(<Activity />) },
    { path: '/settings', element: signedIn(<Settings />) },
    { path: '/settings/email', element: signedIn(<ConfirmEmailChange />) },
    { path: '/consent', element: signedIn(<Consent />) },
    { path: '/malice/:agentId', element: <ShadowClaim /> },
    { path: '*', element: <NotFound /> },
  ],
}]

export function App () {
  return (
    <AuthProvider>
      <RouterProvider router={createBrowserRouter(routes)} />
    </AuthProvider>
  )
}
